"""higher_order: a WGAN-GP gradient penalty and a Hessian-vector product, three ways."""

# How closely the forms' first-step gradients agree (`numpy.allclose`; `atol_of_max`:
# that fraction of the largest reference magnitude is added to atol): funcgrad compare.
TOLERANCE = {"rtol": 2e-4, "atol": 2e-5}
