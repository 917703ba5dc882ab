"""Measuring and learning the router: evaluation on labelled complaints, the trained model."""
