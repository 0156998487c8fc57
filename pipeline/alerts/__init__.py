"""Alert stage: rule language, matcher, rule index, rule store, delivery, Faust agents."""
