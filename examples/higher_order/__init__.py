"""higher_order: a WGAN-GP gradient penalty and a Hessian-vector product, three ways."""
