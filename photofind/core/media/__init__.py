"""Reading images safely: what may be read (regular files, size, sniffed header, decode
budget), decoding for the model and for the eye (allow-list, pixel limit, JPEG draft,
EXIF orientation, HEIC/AVIF), content hashes, and the thumbnail cache."""
