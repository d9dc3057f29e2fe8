"""JSON API blueprints (flask-smorest), one module per resource."""
