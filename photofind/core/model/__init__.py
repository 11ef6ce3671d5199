"""The model: specs and model ids, loading open_clip weights, the embedder (images and
text → normalised vectors), the ONNX towers and their export, CLIP's tokenizer and the
torch-free text encoder. Imports `core.store` at most; never the write path."""
