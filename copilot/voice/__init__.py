"""Audio in, utterances out: decoding, resampling, voice activity, streaming utterances."""
