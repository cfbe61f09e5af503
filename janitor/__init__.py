"""Keep MLflow tracking stores healthy and small."""

__version__ = "0.1.0"
