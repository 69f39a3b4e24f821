"""The frame grid every LLD shares: 16 kHz samples, a frame every 10 ms.

Frame ``i`` starts at sample ``i * HOP`` (openSMILE's ``frameCenterSpecial = left``); its
time, ``frameTime``, is ``i * HOP / SAMPLE_RATE_HZ`` seconds. Pitch, harmonics and jitter
read 60 ms from there, the spectral descriptors and formants 20 ms.
"""

SAMPLE_RATE_HZ = 16000
HOP = 160  # samples per 10 ms
FRAME60 = 960  # samples per 60 ms
FRAME20 = 320  # samples per 20 ms
