"""The streaming runtime: pipeline, sinks and the live window."""
