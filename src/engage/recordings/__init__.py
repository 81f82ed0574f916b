"""Call recordings: the pipeline from the switch's audio file to object storage, listing, signed playback,
deletion and retention."""
