"""The conversation: the providers, turn taking, the cached greeting, the reply guard and the pipeline."""
