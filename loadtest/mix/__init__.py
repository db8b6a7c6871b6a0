"""The cache mix (python -m loadtest cachemix): a request mix with a hit rate, a writer updating
the popular series, and the staleness judgement of every answer (docs/caching.md)."""
