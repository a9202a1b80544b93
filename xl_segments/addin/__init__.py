"""The xl-segments Excel add-in (.xlam): ribbon XML, VBA sources and the VBA project writer."""
