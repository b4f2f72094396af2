-- AOV and purchase frequency by customer state (location as given on each order).
{{ orders_by_location(['customer_state']) }}
