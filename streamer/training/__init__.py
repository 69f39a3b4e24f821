"""Training: datasets, AVEC 2017 baselines (linear SVR, early and late fusion) and protocol."""
