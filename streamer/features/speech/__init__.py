"""Speech front end: streaming word recognition with word times, and text words."""
