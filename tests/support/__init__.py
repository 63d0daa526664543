"""Code the tests and the tools (`make screenshots`) share; never imported by the product."""
