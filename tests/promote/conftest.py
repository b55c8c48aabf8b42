from releases import releases

__all__ = ["releases"]
