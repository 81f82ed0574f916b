"""The audio file a simulated `uuid_record` leaves behind: a real WAV (8 kHz, mono, 16-bit PCM, what
FreeSWITCH writes for a narrowband call) as long as the recording ran, so storage, playback and duration checks
downstream work on a genuine file.

The content is a quiet 425 Hz tone (the ITU-T ringing/dial tone frequency) rather than silence, so that a
player or a checksum shows the file is not empty. Writing is blocking file I/O: call it from a thread.
"""

from __future__ import annotations

import math
import wave
from functools import cache
from pathlib import Path

SAMPLE_RATE = 8000
SAMPLE_WIDTH = 2  # bytes: 16-bit PCM
TONE_HZ = 425
# About -20 dBFS: audible, well clear of clipping.
AMPLITUDE = 3276


@cache
def _one_second() -> bytes:
    """One second of tone; 425 Hz is a whole number of periods in a second, so seconds join without a click."""
    samples = bytearray()
    for n in range(SAMPLE_RATE):
        value = int(AMPLITUDE * math.sin(2 * math.pi * TONE_HZ * n / SAMPLE_RATE))
        samples += value.to_bytes(SAMPLE_WIDTH, "little", signed=True)
    return bytes(samples)


def frames_for(seconds: float) -> int:
    return max(0, round(seconds * SAMPLE_RATE))


def write_wav(path: Path, seconds: float) -> int:
    """Write `seconds` of audio at `path` (parents created); returns the number of samples written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    total = frames_for(seconds)
    second = _one_second()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(SAMPLE_WIDTH)
        out.setframerate(SAMPLE_RATE)
        whole, rest = divmod(total, SAMPLE_RATE)
        for _ in range(whole):
            out.writeframes(second)
        out.writeframes(second[: rest * SAMPLE_WIDTH])
    return total
