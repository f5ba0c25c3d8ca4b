"""Math word problems: data source and the math-verify reward."""
