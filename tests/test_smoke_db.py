from sqlalchemy import text


def test_database_answers(engine):
    with engine.connect() as conn:
        assert conn.execute(text("select 1")).scalar() == 1
