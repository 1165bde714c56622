// @generated automatically by Diesel CLI.

diesel::table! {
    transactions (id) {
        id -> Int8,
        wallet_id -> Int8,
        txid -> Text,
        amount -> Numeric,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    wallets (id) {
        id -> Int8,
        label -> Text,
        balance -> Numeric,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(transactions -> wallets (wallet_id));

diesel::allow_tables_to_appear_in_same_query!(transactions, wallets,);
