"""Training the `refusal` judge's engagement head (complied vs off-task): data and script."""
