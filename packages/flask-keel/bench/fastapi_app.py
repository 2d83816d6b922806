"""The stretch baseline: the MariaDB read on FastAPI's sync endpoint under uvicorn.

The same query as the template's and the conventional build's /ws/catalog/<code>
(one course by its code, through a SQLAlchemy session), written the way FastAPI's
documentation writes it: a plain `def` endpoint (run in its thread pool) and a
session per request from a dependency. No sessions, CSRF, request ids or access log.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy import Integer, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

env = os.environ
engine = create_engine(
    f"mysql+pymysql://{env['BENCH_DB_USER']}:{env['BENCH_DB_PASSWORD']}@{env['BENCH_DB_HOST']}:"
    f"{env['BENCH_DB_PORT']}/{env['BENCH_DB_NAME']}?charset=utf8mb4",
    # 40 connections in all, split over the workers, as the conventional build's pool:
    # MariaDB's default max_connections (151) also serves the template's pools meanwhile.
    pool_size=-(-40 // int(env.get("BENCH_WORKERS", "1"))), max_overflow=0, pool_recycle=280,
)
SessionLocal = sessionmaker(engine)


class Base(DeclarativeBase):
    pass


class Course(Base):
    __tablename__ = "courses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_name: Mapped[str] = mapped_column(String(100))
    course_code: Mapped[str] = mapped_column(String(10))
    teacher_id: Mapped[int] = mapped_column(Integer)


def get_session() -> Iterator[Session]:
    with SessionLocal() as session:
        yield session


app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/ws/catalog/{code}")
def catalog(code: str, session: Annotated[Session, Depends(get_session)]) -> dict:
    course = session.scalar(select(Course).where(Course.course_code == code))
    if course is None:
        raise HTTPException(status_code=404)
    return {"id": course.id, "course_name": course.course_name, "course_code": course.course_code,
            "teacher_id": course.teacher_id}
