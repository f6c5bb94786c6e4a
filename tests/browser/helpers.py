"""Steps the browser tests share."""


def log_in(page, base_url: str, username: str, password: str = "pw-for-tests-1") -> None:
    page.goto(f"{base_url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
