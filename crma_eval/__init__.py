"""crma_eval: evaluation harness for continual LoRA fine-tuning with a CRMA backbone."""

__version__ = "0.1.0"
