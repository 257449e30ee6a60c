"""Faces: expression models (FER2013 mini-Xception port; FER+ model and face rater to come)."""
