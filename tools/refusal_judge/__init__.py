"""Training the `refusal` judge: its data generator and the training script."""
