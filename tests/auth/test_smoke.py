def test_register_then_me(client):
    response = client.post("/api/auth/register", json={"email": "a@example.com", "password": "longenough1", "name": "A"})
    assert response.status_code == 201, response.get_json()
    token = response.get_json()["data"]["accessToken"]
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.get_json()["data"]["user"]["role"] == "user"
