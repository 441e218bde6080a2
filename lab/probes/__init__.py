"""Background probe traffic between pods and its loss per segment (see session.py, analysis.py)."""
