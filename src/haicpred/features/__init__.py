"""The feature matrix, its dictionary, the endpoint labels and the data checks."""
