"""photofind: find photos in your own folders by what they show."""

__version__ = "0.1.0"
