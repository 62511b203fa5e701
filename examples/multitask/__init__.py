"""multitask: a shared conv trunk with two heads, trained three ways on the digits images."""

# How closely the forms' first-step gradients agree (`numpy.allclose`; `atol_of_max`:
# that fraction of the largest reference magnitude is added to atol): funcgrad compare.
TOLERANCE = {"rtol": 1e-4, "atol": 1e-6}
