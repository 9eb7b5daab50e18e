"""WTForms classes and the questionnaire form builder."""
