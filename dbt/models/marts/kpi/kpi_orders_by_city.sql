-- AOV and purchase frequency by customer city (location as given on each order).
{{ orders_by_location(['customer_state', 'customer_city']) }}
