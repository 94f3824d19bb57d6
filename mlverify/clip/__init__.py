"""CLIP image verification: does this image show the named product?

One module per step, in the order a request meets them:

* :mod:`~mlverify.clip.config`: :class:`ClipConfig`, read from Django settings.
* :mod:`~mlverify.clip.loading`: :func:`load_clip` builds the open_clip model from a LOCAL
  weights file only. A missing, corrupt or mismatched file raises
  :class:`~mlverify.inference.ModelUnavailable` with a reason an operator can act on; it never
  falls back to random weights and never reaches a hub.
* :mod:`~mlverify.clip.onnx_serving`: the same model served by ONNX Runtime from the export
  (``MODEL_RUNTIME=onnx``, production's default), with no torch or open_clip in the process:
  :mod:`~mlverify.clip.preprocess` is open_clip's eval transform in Pillow and numpy, and
  :mod:`~mlverify.clip.tokenizer` its BPE tokenizer;
  :func:`~mlverify.clip.loading.load_serving_clip` chooses the runtime.
* :mod:`~mlverify.clip.images`: :func:`fetch_image_bytes` fetches through the project's safe
  outbound client (image content types only, at most 5 MB) and :func:`decode_image` decodes
  with Pillow behind the decompression-bomb guard. Either failing raises
  :class:`~buyhive.exceptions.ImageFetchFailed`.
* :mod:`~mlverify.clip.encoding`: images and names to unit vectors, and the match score
  (softmax over CLIP's scaled similarities against a few generic negatives; the score is the
  product's probability).
* :mod:`~mlverify.clip.calibration`: the threshold, from settings or from the calibration
  file ``calibrate_clip`` writes.
* :mod:`~mlverify.clip.score_cache`: the per-process score LRU in front of the shared cache.
* :mod:`~mlverify.clip.service`: :class:`ClipService` caches the image embedding by URL, the
  text embedding by name and the score by (URL, name), all keyed by the model version, and
  runs the model on the inference thread (:mod:`mlverify.inference`). When CLIP is
  unavailable, :meth:`ClipService.best_image` ranks candidates by the MiniLM similarity of
  their alt text or file name to the product name (``method="text"``). Its module-level
  :func:`verify_image` and :func:`best_image` are what the API and extraction call.

The process-wide CLIP holder is in :mod:`mlverify.registry`, with every other model's.
"""
