"""xl-segments: turn an ecommerce order table into customer contact lists."""

__version__ = "0.1.0"
