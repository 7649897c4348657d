"""Ray Serve apps (inference, features/book/bars API, admin API): the features/serving issue."""
