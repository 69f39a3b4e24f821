"""Bags of words: codebooks, quantisation and rolling bags over time."""
