"""HTTP views, one Blueprint per area.  Views stay thin: parse, delegate, render."""
