"""multitask: a shared conv trunk with two heads, trained three ways on the digits images."""
