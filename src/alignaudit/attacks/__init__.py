"""Fine-tuning attacks (Qi et al. 2023): recipes, supervised fine-tuning, and safety-data mixing."""
