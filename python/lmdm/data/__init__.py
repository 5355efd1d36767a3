"""The corpus: scores rendered through soundfonts into captioned mixes, shards and splits (`python -m
lmdm.data build`), bring-your-own audio, evaluation clips and the guitar streams the adherence benchmark plays."""
