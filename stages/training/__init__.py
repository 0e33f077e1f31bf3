"""What the two training loops (teacher pretraining and student distillation) share: random
similarity transforms, the learning-rate schedule, a fixed torch thread count, checkpoint files, the
progress bar and the loss-curve PNG."""
