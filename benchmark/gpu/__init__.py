"""Running the suite in a short GPU slot: the wheels a bare GPU machine lacks, and a prioritised campaign
of ``benchmark`` commands that ends before a deadline (README, *GPU*)."""
