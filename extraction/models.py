"""The extraction app's models: what learning from corrections stores
(:mod:`extraction.learning.models`)."""

from extraction.learning.models import CandidateRecord, LearnedLocation

__all__ = ["CandidateRecord", "LearnedLocation"]
