"""Judging generations from outside the model: adherence to the guitar that drove it (`adherence`, used by
bench/adherence_bench.py), the instrument classifier (the judge of text adherence, `python -m
lmdm.evaluation.classifier`), Fréchet distances on two embeddings and `python -m lmdm.evaluation.evaluate`."""
