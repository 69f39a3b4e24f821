"""Fusion: the multimodal network, output scaling, delay compensation and CCC."""
