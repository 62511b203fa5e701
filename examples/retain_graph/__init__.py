"""retain_graph: the `a, b, c, d, e` graph backwarded several times, three ways."""
