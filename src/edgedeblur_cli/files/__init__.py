"""Files in and out: decoding and encoding, atomic writes, planning and running a batch of files, sharding."""
