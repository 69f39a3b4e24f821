"""Face features: MediaPipe Face Landmarker mesh, iBUG landmarks, iris points, head pose."""
